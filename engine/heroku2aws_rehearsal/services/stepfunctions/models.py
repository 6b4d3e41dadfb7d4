"""botocore's service models, the same the SDKs are generated from: the judge of every aws-sdk call."""

from __future__ import annotations

import threading

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

from heroku2aws_conformance import rules

_loader = Loader()
_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()


def boto_service(sfn_service: str) -> str:
    """``aws-sdk:databasemigration`` -> botocore's ``dms`` (rules.SFN_TO_BOTOCORE, else derived from the models)."""
    name = sfn_service.lower()
    return rules.SFN_TO_BOTOCORE.get(name) or rules.botocore_service(name) or sfn_service


def service_model(boto_service_name: str) -> ServiceModel:
    with _models_lock:
        if boto_service_name not in _models:
            _models[boto_service_name] = ServiceModel(_loader.load_service_model(boto_service_name, "service-2"),
                                                      service_name=boto_service_name)
        return _models[boto_service_name]


def _snake(name: str) -> str:
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    return camel_to_snake_case(name)


def operation_model(boto_service_name: str, snake_action: str) -> OperationModel:
    """``("dms", "create_endpoint")`` (or ``"createEndpoint"``) -> botocore's operation model."""
    model = service_model(boto_service_name)
    wanted = _snake(snake_action)
    for name in model.operation_names:
        if _snake(name) == wanted:
            return model.operation_model(name)
    raise KeyError(f"{boto_service_name} has no operation {snake_action}")
