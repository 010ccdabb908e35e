"""Pipeline components over one ``Doc``: catalog rules, jurisdiction, the trained classifier and its members."""
