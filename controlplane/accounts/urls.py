# Names are not namespaced: settings.LOGIN_URL and the base layout refer to "login"/"logout".
from django.urls import path

from . import sso_logout, sso_views, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("sso/login/", sso_views.sso_start, name="sso-login"),
    path("sso/callback/", sso_views.sso_callback, name="sso-callback"),
    path("sso/logout/", sso_logout.sso_logout_continue, name="sso-logout"),
    path("set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password-set"),
    path("token/", views.api_token, name="api-token"),
    path("token/<int:token_id>/revoke/", views.api_token_revoke_view, name="api-token-revoke"),
    path("users/", views.user_index, name="users"),
    path("users/<str:username>/", views.user_detail, name="user-detail"),
    path(
        "users/<str:username>/deactivate/",
        views.user_deactivate_confirm,
        name="user-deactivate",
    ),
    path("users/<str:username>/reactivate/", views.user_reactivate_view, name="user-reactivate"),
    path(
        "users/<str:username>/password-link/",
        views.user_password_link,
        name="user-password-link",
    ),
    path("grants/", views.grant_index, name="role-grants"),
    path("grants/<slug:cluster>/", views.grant_cluster, name="role-grants-cluster"),
    path(
        "grants/<slug:cluster>/group-mappings/",
        sso_views.group_mapping_create_view,
        name="group-mapping-create",
    ),
    path(
        "grants/<slug:cluster>/group-mappings/<int:mapping_id>/delete/",
        sso_views.group_mapping_delete_view,
        name="group-mapping-delete",
    ),
    path(
        "grants/<slug:cluster>/<str:username>/revoke/",
        views.grant_revoke,
        name="role-grant-revoke",
    ),
]
