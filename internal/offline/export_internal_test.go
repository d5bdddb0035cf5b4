package offline

// setHook installs a test hook called at named points of Import.
func (s *Service) setHook(h func(stage string)) { s.hook = h }
