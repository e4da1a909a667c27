"""The base of API views on Kubernetes objects: path names are checked before anything else."""

from rest_framework.views import APIView

from controlplane.kube.names import validate_object_names


class KubeObjectAPIView(APIView):
    """A view whose URL carries `namespace` and maybe `name`: once the caller is known, both
    are validated as Kubernetes validates them (400 naming the field) before the role check,
    the audit or any cluster call sees them."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        validate_object_names(namespace=kwargs.get("namespace"), name=kwargs.get("name"))
