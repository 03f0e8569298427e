"""mngs: small research utilities; the data layer lives in the ``mngs.db`` subpackage."""
