# Fixture modules are owned by the area they serve; they are loaded for the whole suite.
pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.controlplane",
]
