"""Pages of the experiments app."""

app_name = "experiments"

urlpatterns: list = []
