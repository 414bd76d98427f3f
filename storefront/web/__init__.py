"""The shop's pages for shoppers (port 8080): server-rendered HTML over the catalog and order
services, which it calls over HTTP like any other client. It imports nothing of theirs."""
