"""Data files for the kwok-based test cluster (stages applied by ``periph_env.testenv.kube``)."""
