"""What the bench's entry points use and never run on their own: the ceiling's fixed-page
Flask app (ceiling_app), a command measured as a process tree (process_meter), and
confirmed signatures written straight into the table (seed). Imported as `helpers.*`:
bench/ is on sys.path.
"""
