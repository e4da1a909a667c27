# Names are not namespaced: settings.LOGIN_URL and the base layout refer to "login"/"logout".
from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("token/", views.api_token, name="api-token"),
    path("grants/", views.grant_index, name="role-grants"),
    path("grants/<slug:cluster>/", views.grant_cluster, name="role-grants-cluster"),
    path(
        "grants/<slug:cluster>/<str:username>/revoke/",
        views.grant_revoke,
        name="role-grant-revoke",
    ),
]
