"""Translation engines behind one interface (:class:`service.engines.base.Engine`)."""
