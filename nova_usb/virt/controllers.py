#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""USB controller models a guest can have, and their ports.

Kept apart from the port model (ports.py), which reads domain XML, so that
the configuration options can name the models without loading Nova's libvirt
driver. The models and their ports are plain data of the client package
(nova_usbclient.controller_models), which nova-usb's clients import too.
"""

from nova_usbclient import controller_models

from nova_usb import exception

# What libvirt makes of <controller type='usb'/> without a model (Nova
# writes one when the guest needs USB), on pc and q35 machines alike.
DEFAULT_MODEL = 'piix3-uhci'
HUB_PORTS = 8


def controller_ports(model, ports=None):
    """How many ports a controller of ``model`` that can be added has.

    ``ports`` is the requested ``ports`` attribute; only the xHCI models
    accept one. Raises UnknownControllerModel or InvalidControllerPorts.
    """
    if model not in controller_models.ADDABLE_MODELS:
        raise exception.UnknownControllerModel(
            model=model, known=', '.join(controller_models.ADDABLE_MODELS))
    fixed = controller_models.CONTROLLER_PORTS[model]
    if fixed is not None:
        if ports is not None:
            # QEMU refuses a ports attribute on these models, whatever its
            # value, when the guest starts.
            raise exception.InvalidControllerPorts(
                model=model, reason='has %d ports; its port count cannot '
                                    'be set' % fixed)
        return fixed
    if ports is None:
        return controller_models.XHCI_DEFAULT_PORTS
    if not 1 <= ports <= controller_models.XHCI_MAX_PORTS:
        raise exception.InvalidControllerPorts(
            model=model, reason='takes 1 to %d ports, not %s' % (
                controller_models.XHCI_MAX_PORTS, ports))
    return ports
