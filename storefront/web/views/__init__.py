"""One blueprint per area of the shop: browsing, the cart, checkout and orders, product art."""
