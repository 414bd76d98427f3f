"""The seller portal (port 8081): sign-in with the seller's Cognito user and each seller's own
report. Neither `storefront/` nor `pipelines/` imports it; gunicorn starts `portal.app:create_app()`."""
