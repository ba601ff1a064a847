"""Test plans: the plan model (`model`), plans generated from a description (`generate`) or
kept in the library (`library`), their checks (`checks`) and their execution (`runner`).
"""
