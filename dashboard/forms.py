"""The board's HTML forms (Flask-WTF): each carries the session's CSRF token as a hidden field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional

from fwjr.ops.accounts import MIN_PASSWORD
from fwjr.ops.actions import ACTIONS
from fwjr.ops.announcements import SEVERITIES
from fwjr.ops.roles import Role


class LoginForm(FlaskForm):
    name = StringField("Name or e-mail", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1000)])


class RegisterForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=MIN_PASSWORD, max=1000)])
    repeat = PasswordField("Password again", validators=[EqualTo("password", message="the passwords differ")])


class ResetRequestForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=320)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(min=MIN_PASSWORD, max=1000)])
    repeat = PasswordField("New password again", validators=[EqualTo("password", message="the passwords differ")])


class PlainForm(FlaskForm):
    """A button that posts (sign out, withdraw, revoke, disable): only the CSRF token."""


class ActionForm(FlaskForm):
    workflows = TextAreaField("Workflows (one a line)", validators=[InputRequired(), Length(max=300_000)])
    action = SelectField("Action", choices=list(ACTIONS))
    amount = IntegerField("Amount (MB for more-memory, minutes for more-wallclock)", validators=[Optional()])
    factor = IntegerField("Split factor", validators=[Optional()])
    memory = IntegerField("Memory (MB; acdc, clone, kill-and-clone)", validators=[Optional()])
    sites = StringField("Sites (comma separated)", validators=[Optional(), Length(max=10_000)])
    short = StringField("Reason", validators=[InputRequired(), Length(max=200)])
    long = TextAreaField("Explanation", validators=[Optional(), Length(max=10_000)])


class DecideForm(FlaskForm):
    """The workflow page's decision: an action for a workflow and the similar ones ticked, with
    its reasons and the triage decision shown (JSON, kept as the action's evidence)."""

    workflow = HiddenField(validators=[InputRequired(), Length(max=300)])
    also = HiddenField("Similar workflows", validators=[Optional(), Length(max=300_000)])
    action = SelectField("Action", choices=list(ACTIONS))
    amount = IntegerField("Amount (MB for more-memory, minutes for more-wallclock)", validators=[Optional()])
    factor = IntegerField("Split factor", validators=[Optional()])
    memory = IntegerField("Memory (MB; acdc, clone, kill-and-clone)", validators=[Optional()])
    sites = StringField("Sites (comma separated)", validators=[Optional(), Length(max=10_000)])
    tasks = StringField("Tasks (comma separated task paths; acdc, resubmit)", validators=[Optional(), Length(max=100_000)])
    short = StringField("Reason", validators=[InputRequired(), Length(max=200)])
    long = TextAreaField("Explanation", validators=[Optional(), Length(max=10_000)])
    evidence = HiddenField(validators=[InputRequired(), Length(max=64_000)])


class RetryForm(FlaskForm):
    """The failed-job page's retry button: resubmit the task of one failed job."""

    workflow = HiddenField(validators=[InputRequired(), Length(max=300)])
    task = HiddenField(validators=[Optional(), Length(max=2000)])
    job = HiddenField(validators=[InputRequired(), Length(max=200)])
    exit_code = HiddenField(validators=[Optional(), Length(max=20)])
    site = HiddenField(validators=[Optional(), Length(max=200)])


class AnnouncementForm(FlaskForm):
    message = TextAreaField("Message", validators=[InputRequired(), Length(max=2000)])
    severity = SelectField("Severity", choices=list(SEVERITIES))
    hours = IntegerField("Show for (hours)", default=24, validators=[InputRequired(), NumberRange(min=1, max=90 * 24)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=list(Role))
