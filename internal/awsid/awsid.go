// Package awsid is the one place that names portway's local AWS account and
// region, and builds ARNs in AWS's format from them. A stack is one account
// in one region: ARNs, the user pool id and the SigV4 credential scope all
// agree on them.
package awsid

import (
	"strings"

	"github.com/portway/portway/internal/lazyre"
)

// Account is the fixed local account id that every ARN names (12 digits,
// as AWS's; all zeros, as local AWS emulators use, so it never names a real
// account).
const Account = "000000000000"

// DefaultRegion is the region of a stack whose user pool id names none.
const DefaultRegion = "eu-west-1"

var regionRe = lazyre.New(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// ValidRegion reports whether s looks like an AWS region name (eu-west-1).
func ValidRegion(s string) bool { return regionRe().MatchString(s) }

// PoolRegion returns the region prefix of a Cognito user pool id
// ("eu-west-1" of "eu-west-1_AbC123"), or "".
func PoolRegion(pool string) string {
	i := strings.LastIndexByte(pool, '_')
	if i <= 0 || !ValidRegion(pool[:i]) {
		return ""
	}
	return pool[:i]
}

// ARN builds "arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE".
func ARN(service, region, resource string) string {
	return "arn:aws:" + service + ":" + region + ":" + Account + ":" + resource
}
