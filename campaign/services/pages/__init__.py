"""The campaign as the public and the dashboard see it: campaigns as files (`content`)
and their database row (`campaigns`), the sharded count (`counting`), every cache
and its invalidations (`cache`), the rendered public page (`page_cache`), the
dashboard's numbers (`stats`) and charts (`charts`), share links and images
(`sharing`), and HTML made into PDF (`pdf`, for the pack and the paper sheets;
imported only when a PDF is made). Nothing here reads personal data.

It may import the models, the app's extensions and these packages below it: `verifier`.
Nothing above it, and nothing from the web layer.
"""
