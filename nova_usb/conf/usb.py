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

from nova_usbclient import controller_models
from oslo_config import cfg

usb_group = cfg.OptGroup(
    name='usb',
    title='USB passthrough options',
    help="""
nova-usb: which host USB devices servers may use, and how they get them.
""")

usb_opts = [
    cfg.MultiStrOpt(
        'device_spec',
        default=[],
        help="""
A JSON object that selects host USB devices that may be attached to servers.

Give the option once per rule; a device is assignable when at least one rule
matches it. Every key is optional and a missing key (or "*") matches
anything:

* vendor_id: four hexadecimal digits, e.g. "1050"
* product_id: four hexadecimal digits, e.g. "0407"
* serial: the device's serial number string, compared exactly
* port_path: the kernel port path of the device, as its sysfs name
  ("1-2.3" is port 3 of the hub on port 2 of bus 1); a trailing *
  matches every device below that port, e.g. "1-2.*"
* device_class: two hexadecimal digits; matches the device class or the
  class of any of its interfaces ("03" is HID, "0b" smart card)

Two more keys say how the devices a rule selects are reported to placement,
where each assignable device is a child resource provider of the compute
node with one unit of a resource class (the first matching rule decides):

* resource_class: the resource class of its devices, normalised as Nova
  does for [pci] device_spec ("bank_token" becomes CUSTOM_BANK_TOKEN);
  by default CUSTOM_USB_<VENDOR_ID>_<PRODUCT_ID>, e.g. CUSTOM_USB_1050_0407
* traits: comma-separated traits of their providers, e.g.
  "CUSTOM_FIDO2,CUSTOM_BANK" (names that are not standard traits are made
  custom: "fido2" becomes CUSTOM_FIDO2)

A flavor then asks for a device with resources:CUSTOM_USB_1050_0407=1 (and
trait:CUSTOM_FIDO2=required).

Two keys say who may have the devices:

* use: "flavor" (only servers whose flavor asks for the devices' resource
  class get them), "api" (only through nova-usb's API; not offered to
  flavors) or "any" (the default: both)
* projects: the projects whose members may attach the devices through the
  API, a list of project ids, or "*" for every project. Without it, only
  admins may; admins also grant single devices to projects through the API
  (PUT /os-usb-devices/{device_id}/grants/{project_id}).

A rule that selects every device (none of vendor_id, product_id, serial,
port_path, device_class) must say so with "all_devices": true.

Changes take effect when nova-compute restarts.

When the option is not set, no device is assignable. Hubs and root hubs are
never assignable, whatever the rules say.

Example, a YubiKey of any serial for two projects, every device behind port
1-4 for admins only, and the licence dongles for flavors only, as resource
class CUSTOM_LICENCE_DONGLE::

    [usb]
    device_spec = {"vendor_id": "1050", "product_id": "0407",
                   "projects": ["8f2a6c...", "41d0e3..."]}
    device_spec = {"port_path": "1-4.*"}
    device_spec = {"vendor_id": "0529", "resource_class": "licence_dongle",
                   "use": "flavor"}

Possible errors: a rule that is not a JSON object, has an unknown key or a
malformed value, or selects every device without saying so, stops the
service at start-up with a message naming the rule.
"""),
    cfg.StrOpt(
        'default_controller_model',
        default='qemu-xhci',
        choices=controller_models.ADDABLE_MODELS,
        help="""
USB controller model given to a server that holds USB devices but whose
image asks for no USB controller (Nova then disables USB with model
'none'). Takes effect when Nova next writes the server's domain (start,
hard reboot, rebuild, ...).
"""),
    cfg.IntOpt(
        'max_controllers_per_server',
        default=4,
        min=0,
        max=8,
        help="""
How many USB controllers may be added to one server through nova-usb, on top
of the one Nova gives it. Each takes a PCI slot of the guest.
"""),
    cfg.IntOpt(
        'host_lookup_timeout',
        default=10,
        min=1,
        help="""
Seconds nova-api waits for the compute hosts when it has to find which host
has a USB device: GET /os-usb-devices/{id} without ``host``, and telling a
device of another host (409) from an unknown one (404) on attach. Every
compute host whose service is up is asked at once; a host that does not
answer in time is skipped.
"""),
    cfg.IntOpt(
        'change_timeout',
        default=360,
        min=1,
        deprecated_for_removal=True,
        deprecated_reason="""
nova-api no longer waits longer than [DEFAULT] rpc_response_timeout for a
USB change: a detach answers 202 once the compute host accepted it and is
made in the background, and the other changes are calls bounded by
rpc_response_timeout. This option is ignored.
""",
        help="""
Ignored (see the deprecation): nova-api waits at most [DEFAULT]
rpc_response_timeout for a USB change.
"""),
    cfg.IntOpt(
        'lock_timeout',
        default=60,
        min=1,
        help="""
Seconds a USB change on the compute host waits for Nova's own lock of the
server (held while Nova builds, stops, reboots, shelves or deletes it, and
during volume attach and detach) and for the host's USB lock. When the wait
runs out the change is refused (409) and nothing is changed. A change that
nova-api waits for (attach, controller add or remove) also ends its waits
in time for nova-api's answer: at most [DEFAULT] rpc_response_timeout less
25 seconds.
"""),
]


def register_opts(conf):
    conf.register_group(usb_group)
    conf.register_opts(usb_opts, group=usb_group)


def list_opts():
    return {usb_group: usb_opts}
