package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// haproxyServerStatus asks HAProxy's stats socket for "show stat" and
// returns each server's status ("UP", "DOWN", "UP 1/2", …) by server name.
func haproxyServerStatus(sock string) (map[string]string, error) {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return nil, err
	}
	return parseShowStat(string(out), "targets")
}

// parseShowStat reads the CSV of "show stat" and returns the status of each
// server of backend.
func parseShowStat(out, backend string) (map[string]string, error) {
	out = strings.TrimPrefix(strings.TrimSpace(out), "# ")
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("show stat: empty answer")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	px, okp := col["pxname"]
	sv, oks := col["svname"]
	stc, okst := col["status"]
	if !okp || !oks || !okst {
		return nil, fmt.Errorf("show stat: header %v lacks pxname/svname/status", rows[0])
	}
	res := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) <= stc || len(row) <= px || len(row) <= sv {
			continue
		}
		if row[px] != backend || row[sv] == "BACKEND" || row[sv] == "FRONTEND" {
			continue
		}
		res[row[sv]] = row[stc]
	}
	return res, nil
}
