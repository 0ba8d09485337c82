"""Apple Health import: a streaming, hardened read of export.zip / export.xml into records."""
