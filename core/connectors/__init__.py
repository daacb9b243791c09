"""Cloud (and demo) log sources. One module per provider, found through ``registry``."""
