package gateway

// AllStages returns every stage of c: the Stage/StageVariables shorthand
// first, then Stages (as the gateway serves them).
func (c Config) AllStages() []Stage { return c.stageList() }
