"""The client's operations, one module per group; `mockloop.client` composes them."""
