"""The "Roll out a new image" page of one deployment: one image field per container and a
change-cause; Check shows the warnings (a `latest` or untagged image), Roll out submits the
action and goes back to the deployment page, which follows the rollout live.

The same service as the API (deployment_rollout): the same role check, validation and audit.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError, NotFound

from . import rollouts
from .selectors_rollout import rollout_form_get
from .services.rollout import deployment_rollout
from .views import require_namespace
from .warnings import image_warnings


def image_field(container: str) -> str:
    return f"image-{container}"


class RolloutForm(forms.Form):
    """One image per container (the current one to start with) and the change-cause."""

    change_cause = forms.CharField(
        required=False,
        max_length=rollouts.CHANGE_CAUSE_MAX,
        label="Change cause",
        help_text="recorded as kubernetes.io/change-cause, shown in the revision history",
    )

    def __init__(self, *args, containers: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.containers = containers
        fields = {}
        for container in containers:
            fields[image_field(container["name"])] = forms.CharField(
                label=f"Image of {container['name']}",
                initial=container["image"],
                max_length=rollouts.IMAGE_MAX,
                strip=False,
                help_text=f"now {container['image']}",
            )
        # The images first, as a reader goes through the form.
        self.fields = {**fields, "change_cause": self.fields["change_cause"]}

    def clean(self):
        data = super().clean()
        for container in self.containers:
            field = image_field(container["name"])
            if field in data and (problem := rollouts.image_problem(data[field])):
                self.add_error(field, problem)
        if not self.errors and not self.changed_images():
            raise ValidationError("Change at least one image to roll out.")
        return data

    def changed_images(self) -> dict[str, str]:
        return {
            c["name"]: self.cleaned_data[image_field(c["name"])]
            for c in self.containers
            if self.cleaned_data.get(image_field(c["name"])) not in (None, c["image"])
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors on the field they name: a container's ("name: problem"),
        the change-cause, or the form as a whole."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        names = {c["name"] for c in self.containers}
        for key, messages_ in errors.items():
            for message in messages_:
                container = message.split(":", 1)[0] if key == "containers" else None
                if container in names:
                    self.add_error(image_field(container), message.split(":", 1)[1].strip())
                elif key in self.fields:
                    self.add_error(key, message)
                else:
                    self.add_error(None, message)


def _may_roll_out(request, cluster, namespace: str) -> bool:
    return user_can(user=request.user, permission="rollout", cluster=cluster, namespace=namespace)


@login_required
@require_http_methods(["GET", "POST"])
def rollout_view(request, cluster, namespace, name):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    if not _may_roll_out(request, cluster_obj, namespace):
        if request.method == "POST":
            # The role comes before the input, as in the API: the service refuses and audits.
            deployment_rollout(
                actor=request.user,
                cluster=cluster_obj,
                namespace=namespace,
                name=name,
                request_id=getattr(request, "request_id", None),
            )
        raise PermissionDenied("You may not roll out in this namespace.")
    try:
        current = rollout_form_get(
            user=request.user, cluster=cluster_obj, namespace=namespace, name=name
        )
    except ValidationError:
        raise Http404(f"no deployment {name!r}") from None
    except NotFound:
        raise Http404(f"deployment {namespace}/{name} does not exist") from None
    context = {
        "cluster": cluster_obj,
        "namespace": namespace,
        "name": name,
        "current": current,
        "warnings": None,
    }
    if request.method == "GET":
        form = RolloutForm(containers=current["containers"])
        return render(request, "deployments/rollout.html", {**context, "form": form})
    form = RolloutForm(request.POST, containers=current["containers"])
    context["form"] = form
    if not form.is_valid():
        return render(request, "deployments/rollout.html", context, status=400)
    images = form.changed_images()
    warnings = image_warnings(list(images.values()))
    if "check" in request.POST:
        return render(request, "deployments/rollout.html", {**context, "warnings": warnings})
    status = 400
    try:
        action = deployment_rollout(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            name=name,
            containers=images,
            change_cause=form.cleaned_data["change_cause"],
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
    except NotFound:
        form.add_error(None, f"deployment {namespace}/{name} does not exist (any more)")
        status = 404
    except ActionNotQueued as exc:
        form.add_error(None, f"The task queue is unavailable, nothing was changed: {exc.reason}")
        status = 503
    except KubeError as exc:
        form.add_error(None, f"The cluster answered: {exc}")
        status = 502
    else:
        described = ", ".join(f"{c}={image}" for c, image in images.items())
        messages.info(
            request, f"Rolling out {described} to {namespace}/{name}: action {action.id} queued."
        )
        for warning in warnings:
            messages.warning(request, warning)
        return redirect(
            "deployments:detail", cluster=cluster_obj.name, namespace=namespace, name=name
        )
    return render(request, "deployments/rollout.html", context, status=status)
