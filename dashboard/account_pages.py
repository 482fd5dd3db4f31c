"""Signing in and out, registering with a mailed confirmation link, resetting a password (/account).

Plain Flask pages (Jinja, autoescaped) on the board's server. Registration is open only to
addresses in FWJR_REGISTRATION_DOMAINS and needs SMTP (FWJR_MAIL_SMTP_HOST); new accounts
are viewers and cannot sign in before following the link. Every POST checks the CSRF token
first, and sign-in, registration and reset requests are rate limited per client address.
"""

from __future__ import annotations

import logging
from smtplib import SMTPException
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user

from dashboard import context
from dashboard.auth import SignedIn, client_address, csrf, database, limiter
from dashboard.forms import LoginForm, PlainForm, RegisterForm, ResetForm, ResetRequestForm
from fwjr.ops import accounts, audit, links, mail
from fwjr.ops.accounts import LoginRefused
from fwjr.ops.models import Account
from fwjr.ops.secrets_file import signing_key

log = logging.getLogger("fwjr.board.account")
account_pages = Blueprint("account", __name__, url_prefix="/account", template_folder="templates")


def _attempts() -> str:
    return context.settings().login_rate_limit


@account_pages.before_request
def _csrf_on_every_post() -> None:
    csrf.protect()


def _link_seconds() -> float:
    return context.settings().mail_link_hours * 3600


def _registration_open() -> bool:
    settings = context.settings()
    return bool(settings.registration_domains) and mail.configured(settings)


@account_pages.get("/")
def home() -> ResponseReturnValue:
    return render_template("account/home.html", form=PlainForm())


@account_pages.route("/login", methods=["GET", "POST"])
@limiter.limit(_attempts, methods=["POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    refused = None
    if form.validate_on_submit():
        try:
            with database() as opened:
                account = accounts.authenticate(opened, form.name.data, form.password.data)
                audit.record(opened, account.name, "account.login", account.name, address=client_address())
                user = SignedIn(account)
        except LoginRefused as why:
            refused = str(why)
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if refused else 200
    return render_template("account/login.html", form=form, refused=refused, registration=_registration_open()), status


def _safe_next(target: str | None) -> str:
    """Only a path on this board (no scheme or host), so the sign-in cannot redirect elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@account_pages.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect("/")


@account_pages.route("/register", methods=["GET", "POST"])
@limiter.limit(_attempts, methods=["POST"])
def register() -> ResponseReturnValue:
    settings = context.settings()
    if not _registration_open():
        return _message("Registration is closed", "Ask an administrator for an account.", error=True), 404
    form = RegisterForm()
    refused = None
    if form.validate_on_submit():
        try:
            email = accounts.check_email(form.email.data)
            if accounts.email_domain(email) not in {d.lower() for d in settings.registration_domains}:
                raise ValueError(f"addresses of {accounts.email_domain(email)} may not register here")
            with database() as opened:
                account = accounts.create(opened, email, email=email, password=form.password.data, confirmed=False,
                                          source="registration")
                audit.record(opened, email, "account.register", email, address=client_address())
                link = url_for("account.confirm", token=links.make(signing_key(settings), links.CONFIRM, account))
                mail.send(settings, email, "Confirm your FWJR Monitor account",
                          f"Follow this link to confirm your address:\n\n{settings.public_url}{link}\n\n"
                          f"It is valid for {settings.mail_link_hours:g} hours.")
        except ValueError as why:
            refused = str(why)
        except (OSError, SMTPException) as why:
            log.error("registration mail to %s failed: %s", form.email.data, why)
            refused = "the confirmation mail could not be sent; try again later"
        else:
            return _message("Check your mail", f"A confirmation link was sent to {email}.")
    return render_template("account/register.html", form=form, refused=refused, domains=settings.registration_domains), \
        400 if refused else 200


@account_pages.get("/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    try:
        number, payload = links.account_id(signing_key(context.settings()), links.CONFIRM, token, _link_seconds())
        with database() as opened:
            account = links.check(opened.get(Account, number), links.CONFIRM, payload)
            if not account.confirmed:
                account.confirmed = True
                audit.record(opened, account.name, "account.confirm", account.name, address=client_address())
    except links.BadLink as why:
        return _message("Confirmation failed", str(why), error=True), 400
    return _message("Address confirmed", "You can sign in now.")


@account_pages.route("/reset", methods=["GET", "POST"])
@limiter.limit(_attempts, methods=["POST"])
def reset_request() -> ResponseReturnValue:
    settings = context.settings()
    if not mail.configured(settings):
        return _message("Password reset is not available", "This board sends no mail; ask an administrator.", error=True), 404
    form = ResetRequestForm()
    if form.validate_on_submit():
        with database() as opened:
            account = accounts.find(opened, form.email.data.strip().lower())
            if account is not None and account.email and account.confirmed and not account.disabled:
                link = url_for("account.reset", token=links.make(signing_key(settings), links.RESET, account))
                audit.record(opened, account.name, "account.reset_request", account.name, address=client_address())
                try:
                    mail.send(settings, account.email, "Reset your FWJR Monitor password",
                              f"Follow this link to choose a new password:\n\n{settings.public_url}{link}\n\n"
                              f"It works once, for {settings.mail_link_hours:g} hours. If you did not ask for it, ignore this mail.")
                except (OSError, SMTPException) as why:
                    log.error("reset mail to %s failed: %s", account.email, why)
        return _message("Check your mail", "If that address has an account, a link to reset its password was sent to it.")
    return render_template("account/reset_request.html", form=form)


@account_pages.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    secret = signing_key(context.settings())
    form = ResetForm()
    try:
        number, payload = links.account_id(secret, links.RESET, token, _link_seconds())
        with database() as opened:
            account = links.check(opened.get(Account, number), links.RESET, payload)
            if form.validate_on_submit():
                accounts.set_password(account, form.password.data)
                audit.record(opened, account.name, "account.reset", account.name, address=client_address())
                flash("The password is changed; sign in with it.")
                return redirect(url_for("account.login"))
    except links.BadLink as why:
        return _message("Reset failed", str(why), error=True), 400
    return render_template("account/reset.html", form=form, account=account)


def _message(title: str, text: str, error: bool = False) -> str:
    return render_template("account/message.html", title=title, text=text, error=error)
