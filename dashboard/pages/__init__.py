"""One module per page; each registers itself with Dash and keeps its callbacks beside its layout."""
