"""The operators' `flask` commands: `commands.register_commands` adds every group (the
admin's, delivery and export, the log's `count`, the organizers' key, sealing_cli).
It may import the services and everything below them; only create_app imports it.
"""
