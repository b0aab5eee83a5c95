"""What the HTTP entrypoints (the JSON API and the console) share: the request's
context and units of work (`context`), and the marshmallow schemas that parse and
check what a client sends (`schemas`), so that a form and a JSON body meet the same
rules."""
