"""JSON Schemas shipped with neuroconv-brand; load them with :func:`neuroconv_brand.schemas_io.load_schema`."""
