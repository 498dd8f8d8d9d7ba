"""`payctl bench`: the open-loop benchmark of this design against the synchronous checkout."""
