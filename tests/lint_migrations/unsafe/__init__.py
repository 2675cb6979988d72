"""Each migration here locks or rewrites the populated contexts table: the linter must refuse every one."""
