"""Optimizers. The Python objects hold Keras's configuration; the update itself runs in C++
over the model's whole parameter arena (ember::Optimizer), once per train step."""
from ember.backend.core import core
from ember.optimizers import schedules


class Optimizer:
    kind = None  # the C++ rule

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        if use_ema or loss_scale_factor or gradient_accumulation_steps:
            raise NotImplementedError(
                f"{type(self).__name__}: use_ema, loss_scale_factor and "
                "gradient_accumulation_steps are not supported yet"
            )
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{type(self).__name__}: only one of `clipnorm`, `clipvalue` and "
                f"`global_clipnorm` can be set, received clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if value is not None and value < 0:
                raise ValueError(f"{type(self).__name__}: `{arg}` must be >= 0, received {value}")
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._schedule = learning_rate
            self._lr = None
        else:
            self._schedule = None
            self._lr = _positive(self, "learning_rate", learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or _snake(type(self).__name__)
        self._core = None
        self._iterations = 0
        self._pending_slots = None

    # The rule's own hyperparameters, as a dict for the C++ side.
    def _rule_config(self):
        return {}

    def _core_config(self):
        cfg = {"kind": self.kind, "weight_decay": self.weight_decay or 0.0,
               "clipnorm": self.clipnorm or 0.0, "clipvalue": self.clipvalue or 0.0,
               "global_clipnorm": self.global_clipnorm or 0.0}
        cfg.update(self._rule_config())
        return cfg

    def core_optimizer(self):
        """The C++ optimizer (created once; it owns the slot buffers)."""
        if self._core is None:
            self._core = core.Optimizer(self._core_config())
            self._core.iterations = self._iterations
            if self._pending_slots is not None:  # state loaded with a saved model
                self._core.set_slots(self._pending_slots)
                self._pending_slots = None
        return self._core

    @property
    def iterations(self):
        return self._core.iterations if self._core is not None else self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = int(value)
        if self._core is not None:
            self._core.iterations = int(value)

    @property
    def learning_rate(self):
        return self.current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._schedule, self._lr = value, None
        elif self._schedule is not None:
            raise TypeError(
                f"{type(self).__name__} was created with a LearningRateSchedule as its "
                "`learning_rate`, hence its learning rate is not settable to a number"
            )
        else:
            self._lr = _positive(self, "learning_rate", value)

    def current_learning_rate(self):
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._lr

    def get_config(self):
        lr = schedules.serialize(self._schedule) if self._schedule is not None else self._lr
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": False, "ema_momentum": 0.99,
                "ema_overwrite_frequency": None, "loss_scale_factor": None,
                "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)


def _positive(opt, name, value):
    value = float(value)
    if value < 0:
        raise ValueError(f"{type(opt).__name__}: `{name}` must be >= 0, received {value}")
    return value


def _snake(name):
    import re
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("adam_w", "adamw")
