import pytest

from tenants.errors import InvalidDomain, InvalidSlug
from tenants.naming import MAX_SLUG_LENGTH, quote_schema, schema_name_for, validate_domain, validate_slug


@pytest.mark.parametrize(
    ("slug", "schema_name"),
    [("acme", "tenant_acme"), ("acme-corp", "tenant_acme_corp"), ("a1-b2-c3", "tenant_a1_b2_c3"), ("x", "tenant_x")],
)
def test_schema_name_is_tenant_prefix_plus_slug_with_underscores(slug, schema_name):
    assert schema_name_for(slug) == schema_name


def test_longest_slug_gives_a_schema_name_of_exactly_63_bytes():
    slug = "a" * MAX_SLUG_LENGTH
    assert len(schema_name_for(slug).encode()) == 63


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("", "empty"),
        ("Acme", "not valid"),
        ("ACME", "not valid"),
        ("acme corp", "not valid"),
        ("acme'corp", "not valid"),
        ('acme"corp', "not valid"),
        ("acme;drop", "not valid"),
        ("acme_corp", "not valid"),
        ("1acme", "not valid"),
        ("-acme", "not valid"),
        ("acme-", "not valid"),
        ("acme--corp", "not valid"),
        ("acmé", "not valid"),
        ("public", "reserved"),
        ("information_schema", "reserved"),
        ("template", "reserved"),
        ("pg_x", "reserved"),
        ("pg-x", "reserved"),
        ("a" * (MAX_SLUG_LENGTH + 1), "63-byte"),
    ],
)
def test_validate_slug_refuses_with_a_message_saying_why(slug, message):
    with pytest.raises(InvalidSlug, match=message):
        validate_slug(slug)


def test_schema_name_for_never_returns_a_name_for_a_bad_slug():
    with pytest.raises(InvalidSlug):
        schema_name_for("x; DROP SCHEMA public CASCADE; --")


@pytest.mark.parametrize("domain", ["acme.localhost", "localhost", "a-b.example.com", "x1.y2.z3"])
def test_validate_domain_accepts_host_names(domain):
    assert validate_domain(domain) == domain


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Acme.Localhost", "acme.localhost"),  # host names are case-insensitive
        ("  acme.localhost ", "acme.localhost"),
        ("acme.example.com.", "acme.example.com"),  # the root's dot
        ("bücher.example", "xn--bcher-kva.example"),  # IDNA: what browsers send in Host
        ("ÄRGER.example", "xn--rger-koa.example"),
    ],
)
def test_validate_domain_normalises_case_and_international_names(typed, stored):
    assert validate_domain(typed) == stored


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("acme.localhost:8000", "has a port"),
        ("http://acme.localhost", "has a scheme"),
        ("http://x y", "has a scheme"),
        ("acme.localhost/admin", "has a path"),
        ("a b", "contains a space"),
        ("acme\tx", "contains a space"),
        ("-acme.localhost", "not a valid host name"),
        ("a..b", "not a valid"),
        ("a_b.localhost", "not a valid host name"),
        ("x" * 64 + ".localhost", "not a valid"),
        ("a." * 127 + "bc", "not a valid host name"),
    ],
)
def test_validate_domain_refuses_what_is_not_a_host_name_saying_why(domain, message):
    with pytest.raises(InvalidDomain, match=message):
        validate_domain(domain)


def test_quote_schema_doubles_embedded_quotes():
    assert quote_schema('we"ird') == '"we""ird"'
