"""The seller portal (port 8081): sign-in with the seller's Cognito user and each seller's own
report. Neither `storefront/` nor `pipelines/` imports it; `gitgoods.local.serve` serves
`portal.app:create_app()`."""
