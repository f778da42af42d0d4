/**
 * The gpiolib thread as a runnable example: a GPIO chip provider (the driver of `gpiochip0`) and a
 * reference-counted GPIO device. Consumers hold line descriptors across the chip's removal: their
 * operations fail `ENODEV` ("numbed"), the device object stays readable, and it is released only
 * when the last descriptor is put. Run: `node --import tsx examples/gpio.ts`.
 */
import { Bus, Device, DevFs, type Driver } from 'revocable/device';
import type { Ref, Revocable, RevocableHandle } from 'revocable';

const log = (line: string): void => console.log(line);

/** The hardware: an 8-line GPIO expander on some bus. */
class Expander {
  readonly lines: boolean[];
  powered = true;
  constructor(ngpio: number) {
    this.lines = new Array<boolean>(ngpio).fill(false);
  }
  set(line: number, value: boolean): void {
    if (!this.powered) throw new Error('use after power-down: the bug this library exists to prevent');
    this.lines[line] = value;
  }
  get(line: number): boolean {
    if (!this.powered) throw new Error('use after power-down: the bug this library exists to prevent');
    return this.lines[line] ?? false;
  }
  powerDown(): void {
    this.powered = false;
  }
}

/** gpiolib's registry: chip name → the chip's revocable provider and its device. */
const chips = new Map<string, { device: Device; chip: Revocable<Expander> }>();

/** A line descriptor (`struct gpio_desc`): a reference on the GPIO device plus a handle on the chip. */
class GpioDesc {
  readonly #device: Ref<Device>;
  readonly #chip: RevocableHandle<Expander>;
  constructor(readonly line: number, device: Ref<Device>, chip: RevocableHandle<Expander>) {
    this.#device = device;
    this.#chip = chip;
  }
  /** The GPIO device, readable as long as the descriptor is held. */
  get device(): Device {
    return this.#device.value;
  }
  /** `gpiod_set_value`: fails `ENODEV` once the chip is gone. */
  setValue(value: boolean): void {
    this.#chip.with((chip) => chip.set(this.line, value));
  }
  /** `gpiod_get_value`: fails `ENODEV` once the chip is gone. */
  getValue(): boolean {
    return this.#chip.with((chip) => chip.get(this.line));
  }
  /** `gpiod_put`: drops the reference on the device. */
  put(): void {
    this.#chip.close();
    this.#device.dispose();
  }
}

/** `gpiod_get(chip, line)`: takes a reference on the GPIO device (`get_device` in `gpiod_request`). */
function gpiodGet(chipName: string, line: number): GpioDesc {
  const entry = chips.get(chipName);
  if (entry === undefined) throw Object.assign(new Error(`no GPIO chip "${chipName}"`), { code: 'EPROBE_DEFER' });
  return new GpioDesc(line, entry.device.ref(), entry.chip.handle());
}

/** The chip's driver: `gpiochip_add_data` through managed resources, so removal numbs everything. */
const expanderDriver: Driver = {
  name: 'gpio-expander',
  match: (device) => device.properties.compatible === 'acme,gpio-expander',
  probe(device) {
    const ngpio = device.properties.ngpio as number;
    // The chip provider: revoked (drained, then powered down) when the managed resources go.
    const chip = device.managed.revocable(new Expander(ngpio), { name: device.name, release: (hw) => hw.powerDown() });
    chips.set(device.name, { device, chip });
    device.managed.defer(() => void chips.delete(device.name));
    // The character device, as /dev/gpiochipN: ioctl(GET_LINE_VALUE, line).
    device.managed.node(`/dev/${device.name}`, {
      ioctl: (_file, command, line) => {
        if (command !== 'GET_LINE_VALUE') throw Object.assign(new Error(`unknown ioctl ${String(command)}`), { code: 'ENOTTY' });
        return chip.with((hw) => hw.get(line as number));
      },
    });
    log(`driver: ${device.name} probed, ${ngpio} lines`);
  },
  remove(device) {
    log(`driver: ${device.name} removed; the chip provider is still ${chips.get(device.name)?.chip.state}`);
  },
};

const devfs = new DevFs();
const bus = new Bus({ name: 'platform', devfs });
await bus.register(expanderDriver);

const gpiochip0 = new Device({
  name: 'gpiochip0',
  properties: { compatible: 'acme,gpio-expander', ngpio: 8 },
  release: (device) => log(`gpio_device ${device.name} released: the last reference is gone`),
});
await bus.add(gpiochip0);

// Two consumers take line descriptors; a tool keeps the character device open.
const led = gpiodGet('gpiochip0', 3);
const button = gpiodGet('gpiochip0', 5);
const tool = await devfs.open('/dev/gpiochip0');
led.setValue(true);
log(`led: line 3 set; the tool reads it as ${String(await tool.ioctl('GET_LINE_VALUE', 3))}`);

// The expander is unplugged while everyone still holds it.
await bus.remove(gpiochip0);
log(`bus: ${gpiochip0.name} unplugged, state '${gpiochip0.state}'`);

const code = (action: () => unknown): string => {
  try {
    action();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};
log(`led: set line 3 -> ${code(() => led.setValue(false))}`);
log(`button: get line 5 -> ${code(() => button.getValue())}`);
log(`button: its device is still readable: ${button.device.name}, state '${button.device.state}'`);
const ioctl = await tool.ioctl('GET_LINE_VALUE', 3).then(
  () => 'ok',
  (error: { code?: string }) => error.code,
);
log(`tool: ioctl on /dev/gpiochip0 -> ${ioctl}`);
await tool.close();

led.put();
log('led: descriptor put');
button.put();
log('button: descriptor put');
