"""The offline stack: DynamoDB Local, one moto server, the storefront services, local secrets."""
