"""``app-image``: delete the image tags the build stage pushed to the app's ECR repository.

``ecr:BatchDeleteImage`` by tag (ECR API Reference, BatchDeleteImage: an image whose last tag is deleted is
deleted; a tag that is not there comes back in ``failures`` with ``ImageNotFound``, which is the answer "already
gone", so a second run changes nothing). A repository that is gone leaves nothing to delete.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..contracts.ledger import AppImage
from .progress import Progress

_GONE = {"ImageNotFound", "ImageTagDoesNotMatchDigest"}


def undo_app_image(item: AppImage, cfg: dict[str, Any], progress: Progress) -> None:
    if not item.tags:
        return
    try:
        out = client("ecr").batch_delete_image(repositoryName=item.repository,
                                               imageIds=[{"imageTag": tag} for tag in item.tags])
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return
        raise
    deleted = sorted(i["imageTag"] for i in out.get("imageIds", []) if i.get("imageTag"))
    if deleted:
        progress.did(f"deleted image tag(s) {', '.join(deleted)} from ECR repository {item.repository}")
    for failure in out.get("failures", []):
        if failure.get("failureCode") not in _GONE:
            progress.did(f"left image {failure.get('imageId', {}).get('imageTag')} in {item.repository}: "
                         f"{failure.get('failureCode')} {failure.get('failureReason', '')}".rstrip())
