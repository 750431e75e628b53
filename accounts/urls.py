from django.urls import path

from accounts import oidc, views

app_name = "accounts"

urlpatterns = [
    path("", views.AccountView.as_view(), name="account"),
    path("sessions/<int:pk>/end/", views.SessionEndView.as_view(), name="session-end"),
    path("password/", views.PasswordChangeView.as_view(), name="password"),
    path("2fa/setup/", views.MfaSetupView.as_view(), name="mfa-setup"),
    path("2fa/verify/", views.MfaVerifyView.as_view(), name="mfa-verify"),
    path("2fa/codes/", views.MfaCodesView.as_view(), name="mfa-codes"),
    path("sso/start/", oidc.StartView.as_view(), name="sso-start"),
    path("sso/callback/", oidc.CallbackView.as_view(), name="sso-callback"),
]
