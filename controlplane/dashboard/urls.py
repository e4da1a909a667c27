from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch, name="switch"),
    path("watcher/", views.watcher_status, name="watcher"),
    path("c/<slug:cluster>/", views.overview, name="overview"),
    path(
        "c/<slug:cluster>/sections/<slug:section>/", views.overview_section, name="overview-section"
    ),
]
