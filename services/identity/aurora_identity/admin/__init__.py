"""/admin/*: account administration, for admins only (checklist 40)."""
