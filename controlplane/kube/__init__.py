"""The kube gateway: the only Django-side code that imports the `kubernetes` client.

Apps call the functions in `resources` with a `ClusterConnection` and catch the typed errors
from `errors`; they never see `ApiException` or urllib3 exceptions.
"""
