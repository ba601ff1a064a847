"""Stateful mode: the mock remembers what clients create, change and delete.

`collection` finds the description's CRUD collections, `store` answers requests from them,
`data` holds the items in memory, `limits` bounds them, and `sync` shares them between the
processes that use one database. The admin routes are `mockloop.mock.admin.state_routes`.
"""
