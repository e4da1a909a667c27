"""The "Apply YAML" page: paste or upload manifests, Preview (a server-side dry run: the plan
per document, with diffs and the API server's reasons), then Apply (an action).

The same services as the API: the same parsing, role check and audit.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError

from .apply import MAX_BYTES
from .services.apply import manifests_apply, manifests_preview
from .views import require_namespace


class ApplyForm(forms.Form):
    yaml = forms.CharField(
        required=False,
        strip=False,
        label="YAML",
        widget=forms.Textarea(attrs={"rows": 20, "class": "mono", "spellcheck": "false"}),
        help_text="One or more documents separated by ---.",
    )
    file = forms.FileField(required=False, label="or upload a file")

    def text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return self.cleaned_data.get("yaml") or ""
        # One byte over the limit is enough for the parser to refuse it, naming the limit.
        data = upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return data.decode("utf-8", "replace")  # refused by its size, not its encoding
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"yaml": ["The uploaded file is not UTF-8 text."]}) from None


def _render(request, cluster, namespace, form, *, status=200, plan=None, errors=None):
    context = {
        "cluster": cluster,
        "namespace": namespace,
        "form": form,
        "plan": plan,
        "errors": errors or [],
    }
    return render(request, "deployments/apply.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def apply_view(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    if request.method == "GET":
        if not user_can(
            user=request.user, permission="apply", cluster=cluster_obj, namespace=namespace
        ):
            raise PermissionDenied("You may not apply YAML in this namespace.")
        return _render(request, cluster_obj, namespace, ApplyForm())
    form = ApplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, cluster_obj, namespace, form, status=400)
    common = {
        "actor": request.user,
        "cluster": cluster_obj,
        "namespace": namespace,
        "request_id": getattr(request, "request_id", None),
    }
    try:
        text = form.text()
        if "apply" not in request.POST:
            plan = manifests_preview(**common, text=text)
            if form.cleaned_data.get("file") is not None:
                # The preview's Apply posts the textarea: carry the uploaded text into it.
                form = ApplyForm(initial={"yaml": text})
            return _render(request, cluster_obj, namespace, form, plan=plan)
        action = manifests_apply(**common, text=text)
    except ValidationError as exc:
        found = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        errors = [m for messages_ in found.values() for m in messages_]
        return _render(request, cluster_obj, namespace, form, status=400, errors=errors)
    except ActionNotQueued as exc:
        errors = [f"The task queue is unavailable, nothing was changed: {exc.reason}"]
        return _render(request, cluster_obj, namespace, form, status=503, errors=errors)
    except KubeError as exc:
        errors = [f"The cluster answered: {exc}"]
        return _render(request, cluster_obj, namespace, form, status=502, errors=errors)
    messages.info(request, f"Applying {action.name} in {namespace}: action {action.id} queued.")
    return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)
