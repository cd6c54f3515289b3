"""The database below the ORM: the pool's connections checked without a round trip, the
hot statements run on a DBAPI connection, SQLite's write-ahead log kept off the request
path. It imports nothing of campaign's (SQLAlchemy and the drivers only).
"""
