package elbv2api

import (
	"bytes"
	"encoding/xml"
	"net/http"

	"github.com/portway/portway/internal/nlb"
)

// Namespace is the XML namespace of ELBv2's answers.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// list is a Query protocol list: <Name><member>…</member>…</Name>; the
// element is there (empty) when the list is.
type list[T any] struct {
	Member []T `xml:"member"`
}

func listOf[T any](items []T) list[T] { return list[T]{Member: items} }

type xmlTarget struct {
	Id               string
	Port             int
	AvailabilityZone string `xml:",omitempty"`
}

type xmlTargetHealth struct {
	State       string
	Reason      string `xml:",omitempty"`
	Description string `xml:",omitempty"`
}

type xmlTargetHealthDescription struct {
	Target          xmlTarget
	HealthCheckPort string
	TargetHealth    xmlTargetHealth
}

type xmlMatcher struct {
	HttpCode string
}

type xmlTargetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	Port                       int
	VpcId                      string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckPath            string      `xml:",omitempty"`
	Matcher                    *xmlMatcher `xml:",omitempty"`
	LoadBalancerArns           list[string]
	TargetType                 string
	IpAddressType              string
}

type xmlForwardTarget struct {
	TargetGroupArn string
	Weight         int
}

type xmlForwardConfig struct {
	TargetGroups list[xmlForwardTarget]
}

type xmlAction struct {
	Type           string
	TargetGroupArn string
	ForwardConfig  xmlForwardConfig
}

type xmlListener struct {
	ListenerArn     string
	LoadBalancerArn string
	Port            int
	Protocol        string
	DefaultActions  list[xmlAction]
}

type xmlState struct {
	Code string
}

type xmlLoadBalancer struct {
	LoadBalancerArn  string
	DNSName          string
	CreatedTime      string
	LoadBalancerName string
	Scheme           string
	VpcId            string
	State            xmlState
	Type             string
	IpAddressType    string
}

type xmlAttribute struct {
	Key   string
	Value string
}

func targetHealthXML(ds []nlb.TargetHealthDescription) list[xmlTargetHealthDescription] {
	out := make([]xmlTargetHealthDescription, len(ds))
	for i, d := range ds {
		out[i] = xmlTargetHealthDescription{
			Target:          xmlTarget{Id: d.Target.ID, Port: d.Target.Port},
			HealthCheckPort: d.HealthCheckPort,
			TargetHealth:    xmlTargetHealth(d.TargetHealth),
		}
	}
	return listOf(out)
}

func targetGroupsXML(gs []nlb.TargetGroupDescription) list[xmlTargetGroup] {
	out := make([]xmlTargetGroup, len(gs))
	for i, g := range gs {
		out[i] = xmlTargetGroup{
			TargetGroupArn: g.TargetGroupArn, TargetGroupName: g.TargetGroupName,
			Protocol: g.Protocol, Port: g.Port, VpcId: g.VpcId,
			HealthCheckProtocol: g.HealthCheckProtocol, HealthCheckPort: g.HealthCheckPort,
			HealthCheckEnabled:         g.HealthCheckEnabled,
			HealthCheckIntervalSeconds: g.HealthCheckIntervalSeconds,
			HealthCheckTimeoutSeconds:  g.HealthCheckTimeoutSeconds,
			HealthyThresholdCount:      g.HealthyThresholdCount,
			UnhealthyThresholdCount:    g.UnhealthyThresholdCount,
			HealthCheckPath:            g.HealthCheckPath,
			LoadBalancerArns:           listOf(g.LoadBalancerArns),
			TargetType:                 g.TargetType,
			IpAddressType:              g.IpAddressType,
		}
		if g.Matcher != nil {
			out[i].Matcher = &xmlMatcher{HttpCode: g.Matcher.HttpCode}
		}
	}
	return listOf(out)
}

func listenersXML(ls []nlb.ListenerDescription) list[xmlListener] {
	out := make([]xmlListener, len(ls))
	for i, l := range ls {
		acts := make([]xmlAction, len(l.DefaultActions))
		for j, a := range l.DefaultActions {
			fts := make([]xmlForwardTarget, len(a.ForwardConfig.TargetGroups))
			for k, t := range a.ForwardConfig.TargetGroups {
				fts[k] = xmlForwardTarget(t)
			}
			acts[j] = xmlAction{Type: a.Type, TargetGroupArn: a.TargetGroupArn,
				ForwardConfig: xmlForwardConfig{TargetGroups: listOf(fts)}}
		}
		out[i] = xmlListener{ListenerArn: l.ListenerArn, LoadBalancerArn: l.LoadBalancerArn,
			Port: l.Port, Protocol: l.Protocol, DefaultActions: listOf(acts)}
	}
	return listOf(out)
}

func loadBalancerXML(d nlb.LoadBalancerDescription) xmlLoadBalancer {
	return xmlLoadBalancer{
		LoadBalancerArn: d.LoadBalancerArn, DNSName: d.DNSName,
		CreatedTime:      d.CreatedTime.UTC().Format("2006-01-02T15:04:05.000Z"),
		LoadBalancerName: d.LoadBalancerName, Scheme: d.Scheme, VpcId: d.VpcId,
		State: xmlState{Code: d.State}, Type: d.Type, IpAddressType: d.IpAddressType,
	}
}

func attributesXML(as []nlb.Attribute) list[xmlAttribute] {
	out := make([]xmlAttribute, len(as))
	for i, a := range as {
		out[i] = xmlAttribute(a)
	}
	return listOf(out)
}

type responseMetadata struct {
	RequestId string
}

// writeResult writes <{action}Response><{action}Result>result</…>
// <ResponseMetadata>…</…></…>.
func writeResult(w http.ResponseWriter, action string, result any, requestID string) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	resp := xml.StartElement{Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := enc.EncodeToken(resp); err != nil {
		return err
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		return err
	}
	if err := enc.EncodeElement(responseMetadata{RequestId: requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	if err := enc.EncodeToken(resp.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, buf.Bytes())
	return nil
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorBody
	RequestId string
}

type errorBody struct {
	Type    string
	Code    string
	Message string
}

// writeError writes AWS's Query error document: Type Sender for 4xx,
// Receiver for 5xx.
func writeError(w http.ResponseWriter, status int, code, message, requestID string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	b, err := xml.Marshal(errorResponse{Xmlns: Namespace, Error: errorBody{Type: typ, Code: code, Message: message}, RequestId: requestID})
	if err != nil { // cannot happen: strings only
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeXML(w, status, append([]byte(xml.Header), b...))
}

func writeXML(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(b)
}
