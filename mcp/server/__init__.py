"""The MCP endpoint: each tenant's contexts as tools and resources, over Streamable HTTP and stdio.

protocol.py holds the protocol (eras, headers, methods, error codes, caching
hints), tools.py and resources.py are thin adapters over contexts' services,
views.py is the HTTP door and contexts/management/commands/mcp_stdio.py the
stdio one; both hand each message to protocol.serve.
"""
