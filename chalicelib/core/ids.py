"""Ids of orders, users and (soon) products: positive integers no larger than
a BIGINT column holds."""

MAX_ID = 2**63 - 1
