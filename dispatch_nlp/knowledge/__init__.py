"""What the library knows before it reads an order: the catalog, the gazetteer, the units registry."""
