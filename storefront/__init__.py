"""The lean storefront: catalog and order services (and, later, shopper pages)."""
