"""Jurisdiction: where is the problem? The gazetteer resolver, the learned member and their fusion."""
