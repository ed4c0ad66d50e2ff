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

"""nova-usb's Horizon plugin: USB devices in the dashboard.

Project side: a "USB Devices" tab on the instance detail page with attach
and detach (and the controllers of a stopped server). Admin side: Admin ->
Compute -> USB Devices, every compute host's devices with why each is or
is not assignable, and the projects each is granted to (grants added and
removed there). Every call to nova-usb goes through nova_usbclient.
"""
