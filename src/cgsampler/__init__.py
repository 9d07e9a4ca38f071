"""cgsampler: high-frequency Linux container statistics in cAdvisor's info/v1 model."""
__version__ = "0.1.0"


def __getattr__(name):
    # The native extension is imported on first use, so the pure-Python parts
    # (v1, hierarchy) import on machines where it is not built.
    if name == "Sampler":
        from cgsampler.sampler import Sampler
        return Sampler
    if name in ("v1", "errors", "schema", "hierarchy"):
        import importlib
        return importlib.import_module(f"cgsampler.{name}")
    raise AttributeError(f"module 'cgsampler' has no attribute {name!r}")


__all__ = ["Sampler", "v1", "errors", "schema", "hierarchy"]
